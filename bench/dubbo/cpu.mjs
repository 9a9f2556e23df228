// CPU use over a measured window, for the Dubbo benchmark's clients (loadgen.mjs,
// consumer-load.mjs): this process (as "loadgen"), the processes named in a --watch list
// ("name:pid,name:pid", from /proc/<pid>/stat utime+stime), and the whole machine from
// /proc/stat: machine_busy, other (busy minus all of the above: anything else running, or
// kernel work not charged to them; the noise indicator) and steal. All in % of one core.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

const CLK_TCK = 100; // USER_HZ; 100 on every Linux this runs on

function procTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  } catch {
    return null;
  }
}

/** Machine-wide busy and steal ticks (all cores), from the first line of /proc/stat. */
function machineTicks() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return { busy: user + nice + system + irq + softirq, steal: steal ?? 0 };
  } catch {
    return null;
  }
}

const round = (v) => Math.round(v * 10) / 10;

/** watch: "name:pid,..." (may be empty). */
export function cpuWatcher(watch) {
  const watched = (watch ?? '')
    .split(',')
    .filter(Boolean)
    .map((w) => {
      const [name, pid] = w.split(':');
      return { name, pid: Number(pid) };
    });
  return {
    snapshot: () => ({ t: performance.now(), self: process.cpuUsage(), ticks: watched.map((w) => procTicks(w.pid)), machine: machineTicks() }),
    report(a, b) {
      const secs = (b.t - a.t) / 1000;
      const selfUs = b.self.user - a.self.user + (b.self.system - a.self.system);
      const out = { loadgen: round((selfUs / 1e6 / secs) * 100) };
      watched.forEach((w, i) => {
        const x = a.ticks[i];
        const y = b.ticks[i];
        out[w.name] = x == null || y == null ? null : round(((y - x) / CLK_TCK / secs) * 100);
      });
      if (a.machine && b.machine) {
        const busy = ((b.machine.busy - a.machine.busy) / CLK_TCK / secs) * 100;
        const ours = Object.values(out).reduce((sum, v) => sum + (v ?? 0), 0);
        out.machine_busy = round(busy);
        out.other = round(Math.max(0, busy - ours));
        out.steal = round(((b.machine.steal - a.machine.steal) / CLK_TCK / secs) * 100);
      }
      return out;
    },
  };
}
