/**
 * The live line of `npm run bench`: on a terminal, one line rewritten in place (the scenario, its
 * place in the run, the time it has taken, the last thing its child printed), with permanent lines
 * printed above it; elsewhere (a pipe, a CI log) every line is printed as it comes, prefixed with
 * its scenario, since nothing can be rewritten there.
 *
 * Invariants: on a terminal the live line never wraps (cut to the terminal's width), and it is
 * cleared before any permanent line and at the end.
 *
 * Runs on: the bench process.
 */

/** How often the elapsed time on the live line is redrawn when nothing else changes it. */
const redrawIntervalMs = 1_000;
/** The width assumed when the terminal does not say. */
const columnsDefault = 80;

export class LiveLine {
  private readonly stream: NodeJS.WriteStream;
  private readonly interactive: boolean;
  private label = '';
  private detail = '';
  private startedAtMs = Date.now();
  private drawn = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(stream: NodeJS.WriteStream = process.stdout) {
    this.stream = stream;
    this.interactive = stream.isTTY === true && process.env['TERM'] !== 'dumb';
  }

  /** A new phase: `label` such as `[2/5] queue`. */
  phase(label: string): void {
    this.label = label;
    this.detail = '';
    this.startedAtMs = Date.now();
    if (!this.interactive) {
      this.stream.write(`${label}\n`);
      return;
    }
    this.timer ??= setInterval(() => this.draw(), redrawIntervalMs);
    this.timer.unref();
    this.draw();
  }

  /** What the running phase just did (a child's output line). */
  update(detail: string): void {
    const text = detail.trim();
    if (text === '') return;
    if (!this.interactive) {
      this.stream.write(`  ${this.label.replace(/^\[\d+\/\d+\] /, '')}: ${text}\n`);
      return;
    }
    this.detail = text;
    this.draw();
  }

  /** A line that stays (a scenario's result, a note). */
  log(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
    if (this.interactive && this.label !== '') this.draw();
  }

  /** Clears the live line and stops redrawing it. */
  done(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
    this.label = '';
  }

  private clear(): void {
    if (!this.interactive || !this.drawn) return;
    this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  private draw(): void {
    if (this.label === '') return;
    const seconds = Math.round((Date.now() - this.startedAtMs) / 1000);
    const text = `${this.label} ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')} ${this.detail}`;
    // A pseudo-terminal that reports no size says 0 columns.
    const columns = (this.stream.columns ?? 0) > 0 ? this.stream.columns : columnsDefault;
    const width = Math.max(20, columns - 1);
    this.stream.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    this.drawn = true;
  }
}
