// (e) Errors the Hub really produces are shown plainly: missing repo, not a safetensors file, gated repo.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GPT2_LIKE_REPO, TEST_TIMEOUT_MS, assertPoliteRequests, startSuite } from './lib/harness.mjs';

describe('errors', { timeout: TEST_TIMEOUT_MS }, () => {
  let suite;

  before(async () => {
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  async function expectError(params, pattern, label) {
    const app = await suite.newAppPage();
    await app.open(params);
    const state = await app.waitSettled();
    const text = await app.errorText();
    if (state !== 'error') await app.screenshot(`error-${label}-unexpected`);
    assert.equal(state, 'error', `${label}: state should be error, got ${state}`);
    assert.match(text, pattern, `${label}: error text "${text}" should match ${pattern}`);
    await app.screenshot(`error-${label}`);
    return text;
  }

  it('a missing repository says not found', async () => {
    await expectError(suite.hubQuery('test/does-not-exist'), /not found|does not exist|no such/i, 'missing-repo');
  });

  it('a missing file says not found', async () => {
    await expectError(suite.hubQuery(GPT2_LIKE_REPO, { file: 'no-such-file.safetensors' }), /not found|does not exist|no such|missing|not in this revision/i, 'missing-file');
  });

  it('an HTML page instead of weights says it is not a safetensors file', async () => {
    await expectError(suite.hubQuery('test/html'), /not a safetensors|html/i, 'html');
  });

  it('a gated repository says access is restricted', async () => {
    await expectError(suite.hubQuery('test/gated'), /gated|access|log in|restricted|permission/i, 'gated');
  });

  it('an unknown revision says not found', async () => {
    await expectError(suite.hubQuery(GPT2_LIKE_REPO, { rev: 'no-such-branch' }), /not found|revision|does not exist/i, 'missing-rev');
  });

  it('caused no CORS preflight', () => {
    assertPoliteRequests(suite.hub, 'errors');
  });
});
