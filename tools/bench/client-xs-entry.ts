/** Loaded into XS by the end-to-end benchmark: serves client-ops.ts. */
import { serve } from "../runtime/xs/serve.js";
import * as ops from "./client-ops.js";

serve({
  publishMany: ops.publishMany,
  publishOptionsMany: ops.publishOptionsMany,
  publishVaryingMany: ops.publishVaryingMany,
  publishCallbackMany: ops.publishCallbackMany,
  publishQos1Many: ops.publishQos1Many,
  publishQos2Many: ops.publishQos2Many,
  receiveMany: ops.receiveMany,
  receiveRotatingMany: ops.receiveRotatingMany,
  receiveQos1Many: ops.receiveQos1Many,
  publish5Many: ops.publish5Many,
  publish5Qos1Many: ops.publish5Qos1Many,
  receive5UserMany: ops.receive5UserMany,
  receive5BareMany: ops.receive5BareMany,
  receive5ChangingMany: ops.receive5ChangingMany,
  receive5SubIdMany: ops.receive5SubIdMany,
  counters: ops.counters,
  counters5: ops.counters5,
  restClient: ops.restClient,
});
