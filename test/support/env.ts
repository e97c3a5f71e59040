// Tests run real git; CI may have no identity and must never prompt or read the user's config.
process.env.GIT_AUTHOR_NAME = "Switchyard Test";
process.env.GIT_AUTHOR_EMAIL = "test@switchyard.invalid";
process.env.GIT_COMMITTER_NAME = "Switchyard Test";
process.env.GIT_COMMITTER_EMAIL = "test@switchyard.invalid";
process.env.GIT_CONFIG_GLOBAL = "/dev/null";
process.env.GIT_CONFIG_NOSYSTEM = "1";
process.env.GIT_TERMINAL_PROMPT = "0";
