// The component's entry: hookgate:plugin's exports over ./plugin.js (built by `hookgate plugin build`).
import * as plugin from "./plugin.js";
import { component } from "../../sdk/wit.js";

export const { handler, validate } = component(plugin);
