// JSON values: what a saga's input, step outputs and progress may be (all stored as jsonb).

/** Any value that survives a JSON round trip (inputs and step outputs are stored as jsonb). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };
