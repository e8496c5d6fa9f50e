import { expect } from "@playwright/test";
import { ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import * as zlib from "node:zlib";
import * as fs from "node:fs";

/** A `scaleboard replay FILE` process started by a test, on a free loopback port. */
export interface ReplayServer {
  url: string;
  /** What the process has printed so far, for failure messages. */
  output(): string;
}

const running: ChildProcess[] = [];

/** A port nothing listens on now (the kernel's choice for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts the server binary `cargo xtask test` built (SCALEBOARD_SERVER_BIN) replaying `file`,
 * and waits until it answers `/readyz`. Stop it with {@link stopReplays} in `afterEach`.
 */
export async function startReplay(file: string, speed = 1): Promise<ReplayServer> {
  const bin = process.env.SCALEBOARD_SERVER_BIN;
  if (!bin) throw new Error("SCALEBOARD_SERVER_BIN is not set: run the browser tests with `cargo xtask test`");
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SCALEBOARD_ADDR: `127.0.0.1:${port}`,
    SCALEBOARD_METRICS_ADDR: "off",
  };
  // A replay needs no storage: nothing of the live server's may leak into it.
  delete env.AZURE_STORAGE_CONNECTION_STRING;
  const child = spawn(bin, ["replay", file, "--speed", String(speed)], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(child);
  let log = "";
  child.stdout?.on("data", (chunk) => (log += chunk));
  child.stderr?.on("data", (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  await expect
    .poll(
      async () => {
        if (child.exitCode !== null) throw new Error(`scaleboard replay exited with ${child.exitCode}:\n${log}`);
        try {
          return (await fetch(`${url}/readyz`)).status;
        } catch {
          return 0;
        }
      },
      { message: "the replay server to be ready", timeout: 20_000 },
    )
    .toBe(200);
  return { url, output: () => log };
}

/** Stops every replay server the test started (SIGTERM: a graceful shutdown) and waits. */
export async function stopReplays() {
  const stopping = running.splice(0).map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  );
  await Promise.all(stopping);
}

/** A recording file's contents (its gzip-compressed JSON, decompressed). */
export function readRecording(file: string) {
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString("utf8"));
}

/** How the banner names a recording's time: `2026-12-01 19:04 UTC`. */
export function bannerTime(recordedMs: number): string {
  const iso = new Date(recordedMs).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** The sequence number of the last sample at or before `positionMs` from the first. */
export function seqAt(recording: { samples: { sample: { t_ms: number; seq: number } }[] }, positionMs: number): number {
  const start = recording.samples[0].sample.t_ms;
  let seq = recording.samples[0].sample.seq;
  for (const { sample } of recording.samples) {
    if (sample.t_ms - start > positionMs) break;
    seq = sample.seq;
  }
  return seq;
}
