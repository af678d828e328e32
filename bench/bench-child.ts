// Child processes of the benchmarks (a load client, a stand-in upstream), so that they do not share
// an event loop with the server under test. Each speaks to its parent over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs the TypeScript module at `moduleUrl` in a child Node process. */
export function forkBenchChild(moduleUrl: URL): ChildProcess {
  return fork(fileURLToPath(moduleUrl), { execArgv: ['--import', 'tsx'] });
}

/** The child's next IPC message; rejects when the child fails or exits first. */
export function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      done();
      resolve(message as T);
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      done();
      reject(new Error(`the bench child exited (${signal ?? code}) before it answered`));
    };
    const done = () => {
      child.off('message', onMessage);
      child.off('error', onError);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('error', onError);
    child.on('exit', onExit);
  });
}

/** Ends the child and waits until it has exited. */
export async function endChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
