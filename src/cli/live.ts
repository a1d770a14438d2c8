// A command that runs until the operator leaves (watch, log -f): `q` or
// Ctrl-C on a terminal (read raw, so it works inside pha-cli's own shell too),
// SIGINT or SIGTERM otherwise. end() leaves the terminal as it was found.

export interface LiveIo {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

export interface LiveSession {
  /** Resolves when the operator leaves. */
  stopped: Promise<void>;
  /** Restore the tty mode, stop listening. */
  end(): void;
}

export function liveSession(io: LiveIo): LiveSession {
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const onKey = (b: Buffer) => {
    const k = b.toString();
    // q, Ctrl-C, Ctrl-D
    if (k === 'q' || k === 'Q' || k.includes('\x03') || k.includes('\x04')) stop();
  };
  const onSignal = () => stop();
  const tty = !!io.input.isTTY;
  const wasRaw = tty ? io.input.isRaw : false;
  if (tty) {
    io.input.setRawMode(true);
    io.input.on('data', onKey);
    io.input.resume();
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopped,
    end() {
      if (tty) {
        io.input.off('data', onKey);
        io.input.pause();
        io.input.setRawMode(wasRaw);
      }
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
