/** Loaded into XS by the codec benchmark: serves codec-ops.ts. */
import { serve } from "../runtime/xs/serve.js";
import * as ops from "./codec-ops.js";

serve({ encodeMany: ops.encodeMany, encodeManyStrings: ops.encodeManyStrings, decodeMany: ops.decodeMany, encodeMany5: ops.encodeMany5, decodeMany5: ops.decodeMany5 });
