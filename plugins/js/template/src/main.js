// The component's entry (what `hookgate plugin build` compiles): hookgate:plugin's exports
// over ./plugin.js. Nothing to change here.
import * as plugin from "./plugin.js";
import { component } from "../sdk/wit.js";

export const { handler, validate } = component(plugin);
