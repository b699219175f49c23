/**
 * `xsmqtt-board`: the board file the manifest selects for the platform being built
 * (`platforms.<target>.modules["xsmqtt-board"]`, one of dist/boards/*.js).
 */
declare module "xsmqtt-board" {
  const definition: import("../src/app/board.js").BoardDefinition;
  export default definition;
}
