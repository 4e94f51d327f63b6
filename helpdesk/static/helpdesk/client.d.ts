// Types of the helpdesk client (client.js), version 1.3.1. docs/protocol.md describes every
// frame; "Apps and mini-programs" there describes this library.

export const VERSION: string;

/** A message as the server stores it (docs/protocol.md, "Message"). */
export interface Message {
  id: string;
  conversation_id: string;
  /** Position in the conversation: 1, 2, 3 … with no gaps. The cursor. */
  seq: number;
  sender: "visitor" | "agent" | "system";
  agent_name: string | null;
  body: string;
  created_at: string;
  client_id: string | null;
  meta: { kind?: string; [key: string]: unknown };
  /** The files the message carries ([] for most); a message may be only files (body ""). */
  attachments?: Attachment[];
}

/** A file of a message (docs/protocol.md, "Attachment"): signed URLs, relative to the server. */
export interface Attachment {
  id: string;
  name: string;
  content_type: string;
  size: number;
  /** Images only. */
  width?: number | null;
  height?: number | null;
  url: string;
  /** Images only: at most 320 px a side. */
  thumbnail_url?: string | null;
}

/** What uploadFile() takes: a Blob or File (browser), {uri, name, type} (React Native), or a
 * temporary file path (mini-programs). */
export type UploadSource = Blob | { uri: string; name: string; type: string } | string;

export interface Cursor {
  conversation_id: string;
  seq: number;
}

/** A message written on this device and not yet stored by the server. */
export interface OutboxEntry {
  client_id: string;
  body: string;
  created_at: string;
  /** Fields sent along in the message.send frame (attachment_ids among them). */
  extra?: { attachment_ids?: string[]; [key: string]: unknown };
  /** The files named by attachment_ids, as uploadFile() answered (only {id} after a restart). */
  attachments?: Array<Attachment | { id: string }>;
  [key: string]: unknown;
}

export interface Site {
  name: string;
  greeting: string;
  color: string;
  /** How visitors rate a resolved conversation: 1-5, good (5) or bad (1), or not at all. */
  satisfaction: "five" | "thumbs" | "off";
}

export interface Rating {
  conversation_id: string;
  scale: "five" | "thumbs";
  score: number;
  comment: string;
  updated_at: string;
}

/** Where a conversation waits: its place in the queue, or when the team is back. */
export type Queue = { position: number } | { next_open_at: string | null };

export interface Welcome {
  type: "welcome";
  /** null: someone new who has written nothing yet (no visitor exists). Their first write
   * (a message, an address, a file) is answered by a second welcome with the token, before
   * that write's own answer. */
  token: string | null;
  /** With a null token: the signed ID the first write will make. Say hello with it (as the
   * token) until a real token comes, so a first write whose answer was lost resumes the
   * visitor it made. */
  pending_token?: string;
  visitor_id: string | null;
  identified: boolean;
  site: Site;
  agents_online: boolean;
  conversation_id: string | null;
  read_seq: number;
  queue: Queue | null;
  messages: Message[];
  max_body: number;
}

/** A frame from the server: every one reaches the "frame" event. */
export interface Frame {
  type: string;
  [key: string]: unknown;
}

export type ConnectionState = "idle" | "connecting" | "online" | "offline" | "paused" | "stopped" | "closed";

export type MessageSource = "cache" | "welcome" | "live" | "ack" | "history";

export interface ClientEvents {
  /** The connection changed. "offline": cut, reconnecting with backoff; "stopped": refused
   * for good (code 4403 origin not allowed, 4404 unknown site); "paused": in the background. */
  status: (status: { state: ConnectionState; code: number | null }) => void;
  /** Welcomed: the catch-up is merged and the outbox sent again. Heard a second time on one
   * socket when the first write made the visitor (frame.token is then theirs). */
  welcome: (frame: Welcome) => void;
  /** A message this client did not hold before: each message id once. */
  message: (message: Message, info: { source: MessageSource }) => void;
  /** An outbox entry to show as "sending" (may repeat for the same client_id: key by it). */
  pending: (entry: OutboxEntry) => void;
  /** Refused for good (too long, …): the entry left the outbox. */
  failed: (failure: { client_id: string; code: string; detail: string; entry: OutboxEntry }) => void;
  /** The agent has read the visitor's messages of this conversation up to seq. */
  seen: (read: { conversation_id: string; seq: number }) => void;
  presence: (presence: { agentsOnline: boolean }) => void;
  /** The email address left with setEmail() was saved (a confirmation link is on its way). */
  email: (saved: { email: string; verified: boolean }) => void;
  /** Every message held was dropped: another visitor on this device, or a refused token.
   * outboxDropped: the unsent messages went too (the host site's user signed out). */
  reset: (info: { outboxDropped: boolean }) => void;
  /** An error frame that concerns no message of the outbox and no email address. */
  error: (error: HelpdeskError) => void;
  /** Every frame from the server, before the client handles it (the extension point). */
  frame: (frame: Frame) => void;
  /** This phone was registered for app push (also again, for a new visitor on the device). */
  device: (device: Device) => void;
  /** The mini-program's WeChat link or consents changed (linkWechat, reportConsent, …). */
  wechat: (status: WechatStatus) => void;
  /** An agent is typing in the visitor's conversation (active), or stopped. Never stored. */
  typing: (typing: { conversation_id: string | null; active: boolean; agent_name: string | null }) => void;
}

/** A phone registered for app push: an FCM registration token, or an APNs device token (hex). */
export interface Device {
  platform: "fcm" | "apns";
  token: string;
}

/** The mini-program's WeChat user, and the subscribe-message consents (docs/protocol.md). */
export interface WechatStatus {
  /** The server knows the visitor's openid (linkWechat). */
  linked: boolean;
  /** The site's subscribe-message templates: ask consent for these. */
  templates: string[];
  /** Per template: messages the consents given so far still allow (each allows one). */
  available: Record<string, number>;
}

/** What wx.requestSubscribeMessage answers: per template ID, "accept", "reject", "ban" or "filter". */
export type SubscribeResult = Record<string, string>;

/** Strings under keys; each call may return a value or a promise of one. */
export interface StorageAdapter {
  get(key: string): string | null | Promise<string | null>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

export interface SocketHandlers {
  onOpen(): void;
  onMessage(text: string): void;
  onClose(code: number): void;
}

export interface TransportSocket {
  send(text: string): boolean;
  close(code: number): void;
}

export interface Transport {
  open(url: string, handlers: SocketHandlers): TransportSocket;
}

export interface HttpRequest {
  method: "GET" | "POST" | "DELETE";
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

export interface HttpAdapter {
  request(request: HttpRequest): Promise<{ status: number; data: any }>;
}

export interface Adapter {
  name: string;
  /** The hello's channel unless the client's options say otherwise. */
  channel: "web" | "app" | "mini_program";
  transport: Transport;
  storage: StorageAdapter;
  http: HttpAdapter | null;
  /** Wires wake()/pause() to the platform's events; returns what undoes it. */
  lifecycle: ((client: VisitorClient) => (() => void) | null) | null;
  /** multipart upload of one field `file`: resolves the HTTP status and the parsed JSON. */
  upload?: (request: {
    url: string;
    headers: Record<string, string>;
    file: UploadSource;
    name: string;
    onProgress: ((fraction: number) => void) | null;
  }) => Promise<{ status: number; data: any }>;
  /** Mini-programs: a wx.login code. */
  wechatLogin?: () => Promise<string>;
  /** Mini-programs: wx.requestSubscribeMessage, called synchronously. */
  requestSubscribe?: (templateIds: string[]) => Promise<SubscribeResult>;
}

/** What the hello may carry besides the token and cursor (docs/protocol.md, hello). */
export interface VisitorContext {
  language?: string;
  timezone?: string;
  page_url?: string;
  attributes?: Record<string, string>;
  user_id?: string;
  user_hash?: string;
  name?: string;
  [key: string]: unknown;
}

export interface ClientOptions {
  /** The helpdesk's address, e.g. "https://helpdesk.example.com" (default: the page's origin). */
  url?: string;
  /** The site's widget key (wk_…). */
  siteKey: string;
  adapter: Adapter;
  /** "web", "app" or "mini_program" (default: the adapter's). */
  channel?: "web" | "app" | "mini_program";
  /** Sent with every hello; a function is asked at each one. */
  context?: VisitorContext | (() => VisitorContext);
  /** Prefix of the storage keys (default "helpdesk:<siteKey>:"). */
  storagePrefix?: string;
  /** How many messages the device keeps to show at once on the next start (default 200; 0: none). */
  cacheLimit?: number;
  /** Until the welcome says (default 4000). */
  maxBody?: number;
  /** Timings of the socket, for tests and unusual networks. */
  connection?: Pick<ConnectionOptions, "pingMs" | "idleMs" | "wakeCheckMs" | "backoffMinMs" | "backoffMaxMs">;
  wsPath?: string;
  apiPath?: string;
}

export class HelpdeskError extends Error {
  /** A code of docs/protocol.md ("body_too_long", "invalid_code", …), or "network_error". */
  code: string;
  detail: string;
  /** The HTTP status, 0 when none. */
  status: number;
  constructor(code: string, detail?: string, status?: number);
}

export class VisitorClient {
  constructor(options: ClientOptions);
  readonly version: string;
  readonly siteKey: string;
  readonly channel: string;
  token: string | null;
  /** Kept while nobody has written from this device yet (Welcome.pending_token). */
  pendingToken: string | null;
  visitorId: string | null;
  identified: boolean;
  site: Site | null;
  agentsOnline: boolean | null;
  queue: Queue | null;
  maxBody: number;
  /** The address left for follow-ups (confirmed or not), once the server acknowledged it. */
  email: string | null;
  cursor: Cursor | null;
  /** Welcomed on the current socket. */
  online: boolean;
  state: ConnectionState;
  /** This phone, once registered for app push (kept on the device). */
  device: (Device & { visitor: string | null }) | null;
  /** The mini-program's WeChat status, once asked (linkWechat, wechatStatus, reportConsent). */
  wechat: (WechatStatus & { visitor: string | null }) | null;
  readonly outbox: Outbox;
  readonly connection: Connection;

  /** Load what the device kept, then connect. Resolves before any frame is heard. */
  start(): Promise<void>;
  /** Into the outbox at once, out when welcomed. Throws HelpdeskError "empty_body" or
   * "body_too_long". With extra.attachment_ids (from uploadFile) the body may be empty. */
  send(body: string, extra?: { attachment_ids?: string[]; [key: string]: unknown }): OutboxEntry;
  /** Upload a file for the next message. Someone new becomes a visitor first (a
   * visitor.start frame). Rejects HelpdeskError "file_too_large" (413),
   * "unsupported_file" (415), "rate_limited" (429), "network_error". */
  uploadFile(file: UploadSource, options?: { name?: string; onProgress?: (fraction: number) => void }): Promise<Attachment>;
  /** The visitor is typing (at most one a second goes; a stop goes once). false: not sent. */
  typing(active: boolean, preview?: string): boolean;
  messages(): Message[];
  pending(): OutboxEntry[];
  readSeq(conversationId?: string): number;
  setVisible(visible: boolean): void;
  setEmail(email: string): Promise<{ email: string; verified: boolean }>;
  loadOlder(options?: { limit?: number }): Promise<{ messages: Message[]; hasMore: boolean }>;
  requestResumeCode(email: string): Promise<{ sent: boolean }>;
  confirmResumeCode(email: string, code: string): Promise<{ token: string; visitorId: string }>;
  /** Rate a resolved conversation (score 1-5; good 5, bad 1), again to replace it. */
  rate(conversationId: string, score: number, comment?: string): Promise<Rating>;
  useToken(token: string): void;
  /** App push to this phone; for someone new, once their first write made them a visitor.
   * HelpdeskError "invalid_device", "channel_not_configured" (409). */
  registerDevice(device: Device): Promise<Device>;
  /** No more pushes to this phone; false when it was not registered (or is someone else's now). */
  unregisterDevice(): Promise<boolean>;
  /** Mini-programs: wx.login, and the server learns the visitor's openid from WeChat. */
  linkWechat(): Promise<WechatStatus>;
  wechatStatus(): Promise<WechatStatus>;
  /** Mini-programs, inside a tap handler: wx.requestSubscribeMessage, then reportConsent. */
  requestConsent(templateIds?: string[]): Promise<{ accepted: string[]; status: WechatStatus }>;
  /** What wx.requestSubscribeMessage answered, or the accepted template IDs. */
  reportConsent(result: SubscribeResult | string[]): Promise<WechatStatus>;
  pause(): void;
  wake(options?: { fresh?: boolean }): void;
  /** For good. Resolves once what the client wrote has reached the storage. */
  close(): Promise<void>;
  sendFrame(frame: Frame): boolean;
  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void;
  off<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): void;
}

export function create(options: ClientOptions): VisitorClient;

export interface ConnectionOptions {
  url: string | (() => string);
  transport: Transport;
  onConnecting?(): void;
  onOpen(): void;
  onFrame(frame: Frame): void;
  /** What a close asks for: reconnect with backoff, at once, or never. */
  onClose(code: number): "retry" | "now" | "stop";
  pingMs?: number;
  idleMs?: number;
  wakeCheckMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

/** One reconnecting socket with JSON frames, pings and backoff with jitter. */
export class Connection {
  constructor(options: ConnectionOptions);
  readonly open: boolean;
  stopped: boolean;
  paused: boolean;
  connect(): void;
  send(frame: object): boolean;
  resync(): void;
  settled(): void;
  wake(options?: { fresh?: boolean }): void;
  pause(): void;
  stop(): void;
}

/** Storage with a key prefix whose operations run in order. */
export class Store {
  constructor(adapter?: StorageAdapter, prefix?: string);
  /** Resolves once every operation asked so far has reached the storage. */
  settled(): Promise<void>;
}

/** Unacknowledged messages with their client IDs, kept in a Store. */
export class Outbox {
  constructor(store?: Store, key?: string);
  readonly size: number;
  load(): OutboxEntry[] | Promise<OutboxEntry[]>;
  list(): OutboxEntry[];
  get(clientId: string): OutboxEntry | null;
  has(clientId: string): boolean;
  add(fields: { body: string; [key: string]: unknown }): OutboxEntry;
  remove(clientId: string): boolean;
  clear(): void;
  /** For an error frame: "later" (rate_limited: resend after retry_after), "failed", or null (not ours). */
  refused(frame: Frame, resend: (entry: OutboxEntry) => void): "later" | "failed" | null;
  dispose(): void;
}

export function uuid(): string;
export function compareMessages(a: Message, b: Message): number;
/** A Connection to a socket path of the page's own origin (ws:// or wss:// like the page). */
export function pageSocket(path: string, handlers: Omit<ConnectionOptions, "url" | "transport">): Connection;

/** The minimum of the wx object the mini-program adapter uses. */
export interface WxLike {
  connectSocket(options: { url: string; fail?: (error: unknown) => void }): {
    onOpen(cb: () => void): void;
    onMessage(cb: (res: { data: string | ArrayBuffer }) => void): void;
    onClose(cb: (res: { code?: number; reason?: string }) => void): void;
    onError(cb: (res: unknown) => void): void;
    send(options: { data: string }): void;
    close(options: { code?: number }): void;
  };
  request(options: {
    url: string;
    method: string;
    header?: Record<string, string>;
    data?: string;
    dataType?: string;
    responseType?: string;
    success?: (res: { statusCode: number; data: unknown }) => void;
    fail?: (error: unknown) => void;
  }): unknown;
  uploadFile?(options: {
    url: string;
    filePath: string;
    name: string;
    header?: Record<string, string>;
    success?: (res: { statusCode: number; data: string }) => void;
    fail?: (error: unknown) => void;
  }): { onProgressUpdate?(cb: (res: { progress: number }) => void): void } | void;
  login?(options: { success?: (res: { code: string }) => void; fail?: (error: unknown) => void }): void;
  requestSubscribeMessage?(options: {
    tmplIds: string[];
    success?: (res: SubscribeResult) => void;
    fail?: (error: { errMsg?: string; errCode?: number }) => void;
  }): void;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: string): void;
  removeStorageSync(key: string): void;
  onAppShow?(cb: () => void): void;
  onAppHide?(cb: () => void): void;
  offAppShow?(cb: () => void): void;
  offAppHide?(cb: () => void): void;
  onNetworkStatusChange?(cb: (res: { isConnected: boolean }) => void): void;
  offNetworkStatusChange?(cb: (res: { isConnected: boolean }) => void): void;
}

export interface AsyncStorageLike {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

export const adapters: {
  browser(options?: {
    WebSocket?: unknown;
    fetch?: (url: string, init: object) => Promise<any>;
    localStorage?: { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void } | null;
    storage?: StorageAdapter;
    lifecycle?: false | ((client: VisitorClient) => (() => void) | null);
  }): Adapter;
  wechat(wx: WxLike, options?: { closeInBackground?: boolean }): Adapter;
  reactNative(options: {
    AsyncStorage?: AsyncStorageLike;
    storage?: AsyncStorageLike;
    AppState?: { addEventListener(type: "change", listener: (state: string) => void): { remove(): void } | void };
    WebSocket?: unknown;
    fetch?: (url: string, init: object) => Promise<any>;
    closeInBackground?: boolean;
  }): Adapter;
};

export const storage: {
  memory(seed?: Record<string, string>): StorageAdapter;
  web(
    storage: { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void } | null,
    seed?: Record<string, string>
  ): StorageAdapter;
};

export const transports: {
  webSocket(WebSocketImpl?: unknown): Transport;
};

export as namespace HelpdeskClient;
