// (d) A local file opened with the file input is analysed with no network but the app's own origin.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GPT2_LIKE_PATH, MINILM_PATH, TEST_TIMEOUT_MS, assertMatchesGolden, loadGolden, useSuite } from './lib/harness.mjs';

describe('local file', { timeout: TEST_TIMEOUT_MS }, () => {
  const suite = useSuite();

  /** A page whose every request outside the app's origin is refused (the network is off). */
  async function offlinePage() {
    const app = await suite.newAppPage();
    const appOrigin = new URL(suite.app.url).origin;
    const blocked = [];
    await app.context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('blob:') || url.startsWith('data:') || new URL(url).origin === appOrigin) return route.continue();
      blocked.push(url);
      return route.abort('internetdisconnected');
    });
    // The hub parameter points at the local stand-in, so any stray request also shows in its log.
    await app.open({ hub: suite.hub.hubUrl });
    // The page starts the default Hub analysis at once; with the network off it must end in an
    // error. Wait for that, so none of its requests can be mistaken for the upload's.
    await app.waitState('error');
    return { app, blocked };
  }

  for (const [label, file, goldenName, tensor] of [
    ['all-MiniLM-L6-v2', MINILM_PATH, 'minilm', 'embeddings.position_embeddings.weight'],
    ['GPT-2-shaped', GPT2_LIKE_PATH, 'gpt2-like', 'wpe.weight'],
  ]) {
    it(`analyses the ${label} file offline`, async () => {
      const golden = loadGolden(goldenName);
      const { app, blocked } = await offlinePage();
      const before = await app.results();
      assert.equal(before.state, 'error', 'precondition: the Hub run failed offline before the upload');
      const previousError = await app.errorText();

      suite.hub.clearLog();
      const blockedBefore = blocked.length;
      await app.page.getByTestId('local-file').setInputFiles(file);
      await app.waitReady({ previousError });
      const r = await app.results();
      await app.screenshot(`local-file-${goldenName}`);

      assertMatchesGolden(r, golden, { tensor, shape: golden.shape_label });
      assert.equal(r.bytesStreamed, 'false', 'a local file is read at once: its bytes go to the workers whole');
      assert.deepEqual(blocked.slice(blockedBefore), [], 'no request left the app origin during the local analysis');
      assert.equal(suite.hub.log.length, 0, 'the hub saw no request during the local analysis');
    });
  }
});
