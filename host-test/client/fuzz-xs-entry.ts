/** Loaded into XS by the hostile-input suite: serves fuzz-ops.ts, the same compiled file Node runs. */
import { serve } from "../../tools/runtime/xs/serve.js";
import { fuzz, misuse, replay } from "./fuzz-ops.js";

serve({ fuzz, misuse, replay });
