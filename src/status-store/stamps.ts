// How often each daemon stamps its liveness key (SENDER_AT, RECEIVER_AT,
// SUPERVISE_AT). Readers call a daemon dead after about three missed stamps.
// Every write wakes the other daemons, so stamps are not per heartbeat.
export const SENDER_STAMP_MS = 2000;
export const RECEIVER_STAMP_MS = 2000;
export const SUPERVISE_STAMP_MS = 2000;
