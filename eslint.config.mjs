// Lint configuration. Besides the usual TypeScript rules it enforces the layering of
// docs/architecture: models/ knows nothing of VS Code, LSP or MCP; extension/ never touches
// tensors or the model runtime; nothing but the CLI/server entry points write to stdout.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const protocolPackages = ["vscode", "vscode-languageserver*", "vscode-languageclient*", "vscode-jsonrpc*", "@modelcontextprotocol/*"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "models/python/**", ".device/**", "tests/fixtures/**", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "eqeqeq": ["error", "always"],
    },
  },
  {
    files: ["models/**/*.ts"],
    rules: {
      "no-console": "error",
      "no-restricted-imports": ["error", { patterns: [
        { group: protocolPackages, message: "models/ must not depend on VS Code, LSP or MCP." },
        { group: ["**/extension/**", "**/server/**", "**/mcp/**", "**/webview/**"], message: "models/ is the bottom layer." },
      ] }],
    },
  },
  {
    files: ["extension/**/*.ts", "webview/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["**/models/**", "onnxruntime-*", "sharp"], message: "extension/ and webview/ know no tensors: go through molmo-server." },
      ] }],
    },
  },
  {
    files: ["server/**/*.ts", "mcp/**/*.ts"],
    ignores: ["server/cli/**"],
    rules: { "no-console": "error" },
  },
  {
    files: ["tests/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
    },
  },
);
