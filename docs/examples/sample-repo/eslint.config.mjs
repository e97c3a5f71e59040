export default [
  {
    files: ["**/*.js"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "no-var": "error", "prefer-const": "error" },
  },
];
