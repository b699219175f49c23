/** Loaded into XS by the codec suite: serves ops.ts, the same compiled file Node runs. */
import { serve } from "../../tools/runtime/xs/serve.js";
import * as ops from "./ops.js";

serve({ ...ops });
