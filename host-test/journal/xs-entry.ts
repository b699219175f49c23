/** Loaded into XS by the journal suite: serves the same compiled cases Node runs. */
import { serve } from "../../tools/runtime/xs/serve.js";
import * as ops from "./ops.js";

serve({ ...ops });
