/** The instructions an MCP client passes to its model: what this server is for and how to call it well. */

/** Instructions text of the `molmo` server. */
export const MOLMO_INSTRUCTIONS = [
  "Molmo is a vision-language model running locally on this machine. Use these tools to look at images: screenshots, charts, UI mockups, photos, diagrams.",
  "- ask_image: a free question about an image. describe_image: a description (short for alt text, detailed by default).",
  "- point_at: where things are, in pixels. count: how many, with a point on each. locate_ui_element: the pixel to click for a described button or field in a screenshot.",
  "- list_models: which model is configured and whether it is loaded; call it when a tool reports no_model or model_load_failed.",
  "Pass images as an absolute path, a path relative to a root (the first root that has the file), a file: URI, or an inline data:image/png;base64 URI. Files must lie inside the client's roots " +
    "(or the folders the server was started with); an error result says which folders are allowed. Point coordinates are pixels of the image as given, origin at the top left.",
  "One answer is generated at a time; calls wait in a queue, and the first call loads the model, which can take a while. Answers are in English.",
].join("\n");
