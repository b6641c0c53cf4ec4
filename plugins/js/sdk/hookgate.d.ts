// Types of the Hookgate JavaScript plugin SDK (hookgate.js, host.js, mock.js). Editors and
// `tsc --checkJs` read them; the sandbox does not need them.

export interface Header { name: string; value: string }
export interface EventInfo { id: string; eventType: string; tenant: string; timestamp: string }
export interface EndpointInfo { id: string; url: string }

/** What `handle` returns: built by `deliver`, `drop`, or the delivery itself. */
export type Decision =
  | { tag: "deliver"; val: { body: Uint8Array; headers: Header[] } }
  | { tag: "drop"; val: string };

export class Delivery {
  readonly id: string;
  readonly event: EventInfo;
  readonly endpoint: EndpointInfo;
  body: Uint8Array;
  headers: Header[];
  readonly eventType: string;
  text(): string;
  /** Parsed once; edits to the returned value are what `deliver()` sends. */
  json(): any;
  /** Replaces the JSON `deliver()` sends. */
  setJson(value: unknown): this;
  header(name: string): string | null;
  setHeader(name: string, value: string): this;
  removeHeader(name: string): this;
  deliver(): Decision;
}

export function deliver(body: Uint8Array | string | unknown, headers?: Header[]): Decision;
export function drop(reason: string): Decision;
export function problem(pointer: string, message: string): Problem;
export function utf8Encode(text: string): Uint8Array;
export function utf8Decode(bytes: Uint8Array): string;
export function toBytes(body: Uint8Array | string | unknown): Uint8Array;
export function checkHeader(name: string, value: string): void;
export const headers: {
  get(list: Header[], name: string): string | null;
  set(list: Header[], name: string, value: string): Header[];
  remove(list: Header[], name: string): Header[];
};
export const pointer: {
  tokens(ptr: string): string[];
  get(doc: unknown, ptr: string): unknown;
  set<T>(doc: T, ptr: string, value: unknown): T;
  remove(doc: unknown, ptr: string): boolean;
};

export interface Problem { pointer: string; message: string }

export interface HttpResponse {
  status: number; headers: Header[]; body: Uint8Array; ok: boolean;
  text(): string; json(): any;
}

/** The second argument of `handle` and `validate`. kv and http throw unless granted. */
export interface Host {
  log: Record<"trace" | "debug" | "info" | "warn" | "error", (message: string) => void>;
  config(): any;
  configText(): string;
  kv: {
    get(key: string): Uint8Array | null;
    getText(key: string): string | null;
    getJson(key: string): any;
    set(key: string, value: Uint8Array | string): void;
    setJson(key: string, value: unknown): void;
    delete(key: string): void;
  };
  http: {
    send(req: { method?: "get" | "post"; url: string; headers?: Header[]; body?: Uint8Array | string | null }): HttpResponse;
    get(url: string, headers?: Header[]): HttpResponse;
    post(url: string, body: Uint8Array | string, headers?: Header[]): HttpResponse;
    postJson(url: string, value: unknown, headers?: Header[]): HttpResponse;
  };
}

/** A plugin module: `handle` is required, `validate` optional. */
export interface Plugin {
  handle(delivery: Delivery, host: Host): Decision | Delivery;
  validate?(config: any, host: Host): Array<Problem | string> | undefined;
}

/** `mock.js` */
export interface MockResult {
  decision: "deliver" | "drop" | "error";
  body?: string; json?: any; headers?: Header[]; reason?: string; error?: string;
}
export function mockGateway(opts?: {
  config?: unknown;
  kv?: Record<string, unknown>;
  grants?: { kv?: boolean; http?: string[] };
  http?(req: { method: string; url: string; headers: Header[]; body: string | null }): { status?: number; headers?: Header[]; body?: unknown };
}): {
  logs: Array<{ level: string; message: string }>;
  kv: Map<string, string>;
  run(plugin: Plugin, event: { type?: string; data?: unknown; id?: string; tenant?: string }, headers?: Header[]): MockResult;
  validate(plugin: Plugin, config: unknown): Problem[];
};
