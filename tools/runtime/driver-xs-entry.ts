/** Loaded into XS by the client suites, the CLI and the soak tool: the driver over the xsnap platform. */
import { dispatch, emit, xsnapPlatform } from "../../src/platform/xsnap/index.js";
import { serve } from "./xs/serve.js";
import { makeDriver } from "./driver.js";

serve(makeDriver(xsnapPlatform(), emit), dispatch);
