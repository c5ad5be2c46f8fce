// A node:test reporter that writes one JSON line per finished test or suite (name, file, pass
// or fail, skip/todo reason), for scripts/test.mjs to count after the run. Node's own summary
// does not count a skipped suite (its tests are never reported), and a run in which every file
// was filtered out or every test skipped still exits 0; the runner needs the raw outcomes to
// refuse both. It never prints anything itself.

/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* summaryReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    yield `${JSON.stringify({
      outcome: event.type === 'test:pass' ? 'pass' : 'fail',
      kind: d.details?.type === 'suite' ? 'suite' : 'test',
      name: d.name,
      file: d.file ?? null,
      nesting: d.nesting ?? 0,
      skip: d.skip === undefined ? null : d.skip === true ? '(no reason given)' : String(d.skip),
      todo: d.todo === undefined ? null : d.todo === true ? '(no reason given)' : String(d.todo),
    })}\n`;
  }
}
