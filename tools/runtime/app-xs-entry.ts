/** Loaded into XS by `npm start -- --engine xs` and the app suite: the firmware's ops (app.ts) over the xsnap platform. */
import { dispatch, emit, xsnapFiles, xsnapPlatform } from "../../src/platform/xsnap/index.js";
import { makeAppOps } from "./app.js";
import { serve } from "./xs/serve.js";

serve(makeAppOps(xsnapPlatform(), emit, {}, xsnapFiles()), dispatch);
