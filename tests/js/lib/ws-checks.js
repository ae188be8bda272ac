'use strict';
// Checks shared by the WebSocket suites that are not about the protocol:
// how a server under test ended.

function tail(s, n = 40) {
  return s.split('\n').slice(-n).join('\n');
}

// Stop a server started by proc.js (SIGTERM) and say what was wrong with
// how it ended, or null: a sanitizer report anywhere in its output, a
// crash before we stopped it, or an exit status other than 0 (or death by
// our SIGTERM, for servers that do not catch it).
async function checkServerExit(h) {
  const early = h.child.exitCode !== null || h.child.signalCode !== null;
  const st = await h.stop();
  const out = h.output();
  if (/ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/.test(out)) {
    return `${h.name}: sanitizer report:\n${tail(out)}`;
  }
  if (early) return `${h.name}: exited during the tests (code ${st.code}, signal ${st.signal})\n${tail(out)}`;
  if (st.code !== 0 && st.signal !== 'SIGTERM') {
    return `${h.name}: exit status code ${st.code} signal ${st.signal} after SIGTERM\n${tail(out)}`;
  }
  return null;
}

module.exports = { checkServerExit, tail };
