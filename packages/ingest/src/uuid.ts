// Whether a string can be a uuid: ids that are not cannot name a saga, a document or a row of a uuid column.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can be a value of a uuid column (anything else cannot be stored there, so it names nothing). */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}
