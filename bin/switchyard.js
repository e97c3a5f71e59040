#!/usr/bin/env node
// The installed entry point runs the compiled CLI (npm ci builds lib/ through `prepare`).
import "../lib/cli/bin.js";
