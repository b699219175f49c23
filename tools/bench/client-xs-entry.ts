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
  counters: ops.counters,
  restClient: ops.restClient,
});
