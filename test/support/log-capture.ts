/** The app's JSON log, read back line by line (pass it as LOG_DESTINATION). */
import { Writable } from 'node:stream';

export class LogCapture extends Writable {
  readonly lines: Array<Record<string, any>> = [];
  private pending = '';

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    const parts = (this.pending + chunk.toString('utf8')).split('\n');
    this.pending = parts.pop() ?? '';
    for (const part of parts) if (part.trim()) this.lines.push(JSON.parse(part) as Record<string, any>);
    done();
  }

  /** Lines logged for one request id; waits briefly, since the line is written as the response ends. */
  async forRequest(id: string): Promise<Array<Record<string, any>>> {
    const deadline = Date.now() + 2_000;
    let found = this.lines.filter((l) => l.req?.id === id);
    while (!found.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      found = this.lines.filter((l) => l.req?.id === id);
    }
    // A second line, were there one, would be written in the same tick as the first.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return this.lines.filter((l) => l.req?.id === id);
  }
}
