/**
 * What other parts of bender (the console's live stream, webhooks) hear about. Device events carry
 * Mender's iot-manager shapes; deployment events are bender's own.
 */
export const DEVICE_EVENT_TYPES = [
  'device-provisioned',
  'device-decommissioned',
  'device-status-changed',
] as const
export const DEPLOYMENT_EVENT_TYPES = [
  'deployment-created',
  'deployment-status-changed',
  'deployment-finished',
  'device-deployment-status-changed',
  'deployment-rollout',
] as const
/** bender's own: a device's deviceconnect websocket came or went (webhooks send it only when chosen). */
export const CONNECT_EVENT_TYPES = ['device-connect-status-changed'] as const
/**
 * bender's own: the server refused a direct upload after its checks, with the reason in plain words
 * (the console's upload page shows it; webhooks send it only when chosen).
 */
export const ARTIFACT_EVENT_TYPES = ['artifact-upload-refused'] as const
export const EVENT_TYPES = [
  ...DEVICE_EVENT_TYPES,
  ...DEPLOYMENT_EVENT_TYPES,
  ...CONNECT_EVENT_TYPES,
  ...ARTIFACT_EVENT_TYPES,
] as const
export type EventType = (typeof EVENT_TYPES)[number]

export const isEventType = (value: string): value is EventType =>
  (EVENT_TYPES as readonly string[]).includes(value)

/** An event as written by the change that causes it, in that change's transaction. */
export type NewEvent = {
  tenantId: string
  type: EventType
  /**
   * What the event is about: a device id for device and device-deployment events, a deployment id
   * for deployment events, an upload id for artifact events. Events about one subject are delivered
   * in the order they were written.
   */
  subject: string
  /** The JSON payload (see the README's "Events" section for each type's shape). */
  data: Record<string, unknown>
  time: Date
}

/** A committed event: `seq` grows with commit order and is never reused. */
export type OutboxEvent = NewEvent & { seq: number; id: string }

/** Hears one event at a time; a returned promise is awaited before the next event is handed over. */
export type EventListener = (event: OutboxEvent) => void | Promise<void>
