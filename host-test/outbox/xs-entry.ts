/** Loaded into XS by the outbox suite: serves ops.ts. */
import { serve } from "../../tools/runtime/xs/serve.js";
import * as ops from "./ops.js";

serve({ ...ops });
