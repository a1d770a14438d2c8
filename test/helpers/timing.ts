// The default profile's interval keys, for tests of the cores and of timingOf().
export const DEFAULT_TIMING = {
  HEARTBEAT_INT: 200,
  DEADTIME: 1000,
  SUPERVISE_INT: 2000,
  CHECK_TIMEOUT: 2000,
  RES_TIMEOUT: 30,
  RES_RESTARTS: 2,
  GW_FAILS: 6,
  FAIL_HOLDDOWN: 300,
  OFF_PAUSE: 30,
} as const;
