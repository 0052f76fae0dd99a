import type { Locator, Page } from 'playwright-core';

/**
 * Drives the GraphiQL playground the way a person does: through its tabs,
 * Monaco editors and run button. Selectors found on GraphiQL 5 as rendered by
 * @graphql-yoga/render-graphiql.
 */
export class GraphiQLPage {
  constructor(
    readonly page: Page,
    readonly graphqlUrl: string,
  ) {}

  headersTab = (): Locator => this.page.locator('.graphiql-editor-tools button[data-name="headers"]');
  headersEditor = (): Locator => this.page.locator('.graphiql-editor-tool .monaco-editor[data-uri$="request-headers.json"]');
  queryEditor = (): Locator => this.page.locator('.graphiql-query-editor .monaco-editor[data-uri$="operation.graphql"]');
  resultWindow = (): Locator => this.page.locator('.graphiql-response .result-window');
  runButton = (): Locator => this.page.locator('button.graphiql-execute-button');
  /** The Docs pane (GraphiQL's Documentation Explorer), once {@link openDocs} opened it. */
  docs = (): Locator => this.page.locator('.graphiql-doc-explorer');
  /** The Docs pane's root types (`query: Query`): there once the schema has been fetched. */
  docsRootTypes = (): Locator => this.docs().locator('.graphiql-doc-explorer-root-type');
  /** "Error fetching schema" (or any other error of the Docs pane). */
  docsError = (): Locator => this.page.locator('.graphiql-doc-explorer-error');

  /** Opens the playground and waits for its query editor. */
  async open(): Promise<void> {
    await this.page.goto(this.graphqlUrl, { waitUntil: 'load' });
    await this.page.locator('.graphiql-container .graphiql-query-editor .monaco-editor').waitFor({ timeout: 15_000 });
  }

  /** Opens the Docs pane from the sidebar. */
  async openDocs(): Promise<void> {
    await this.page.locator('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]').click();
    await this.docs().waitFor({ timeout: 10_000 });
  }

  /** The text of a Monaco editor as rendered (one-line contents; Monaco renders spaces as U+00A0). */
  async editorText(editor: Locator): Promise<string> {
    return (await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
  }

  /** Replaces a Monaco editor's contents: click, select all, delete, type. @returns the text it then holds. */
  async typeInto(editor: Locator, text: string): Promise<string> {
    // On a busy machine the editor's suggestions can take a keystroke: type again (at most three times) until it holds the text.
    let got = '';
    for (let attempt = 0; attempt < 3 && got !== text; attempt++) {
      await editor.locator('.view-lines').click();
      await this.page.keyboard.press('ControlOrMeta+KeyA');
      await this.page.keyboard.press('Backspace');
      await this.page.keyboard.type(text);
      // Drop anything Monaco's bracket/quote auto-closing left after the cursor.
      await this.page.keyboard.press('Shift+ControlOrMeta+End');
      await this.page.keyboard.press('Delete');
      await this.page.keyboard.press('Escape');
      got = await this.editorText(editor);
    }
    return got;
  }

  /** Runs the query (button or Ctrl-Enter) and waits for the POST whose body contains `marker`. */
  async run(how: 'button' | 'keyboard', marker: string): Promise<{ status: number; authorization: string | undefined }> {
    const response = this.page.waitForResponse(
      (r) => r.url() === this.graphqlUrl && r.request().method() === 'POST' && (r.request().postData() ?? '').includes(marker),
      { timeout: 10_000 },
    );
    if (how === 'button') await this.runButton().click();
    else {
      await this.queryEditor().locator('.view-lines').click();
      await this.page.keyboard.press('ControlOrMeta+Enter');
    }
    const r = await response;
    return { status: r.status(), authorization: (await r.request().allHeaders()).authorization };
  }
}
