/**
 * What `@graphql-yoga/render-graphiql/graphiql` exports: GraphiQL 5 and Monaco
 * built by Yoga (declared here: the package's own typings are reachable only
 * through its `exports` map, which this project's `moduleResolution` does not read).
 */
export interface GraphiQLParts {
  /** The UMD bundle that defines `YogaGraphiQL.renderYogaGraphiQL(element, props)`. */
  js: string;
  css: string;
  /** A `data:` URL. */
  favicon: string;
  /** The source of Monaco's workers, each turned into a blob URL by the page. */
  editorWorkerService: string;
  jsonWorker: string;
  graphqlWorker: string;
}

/**
 * The settings of the playground page, passed as JSON to {@link PLAYGROUND_START_SCRIPT}
 * (so no functions: the page's own code supplies those).
 */
export interface PlaygroundPageConfig {
  /** Where the page sends its GraphQL requests: a path on the same origin. */
  endpoint: string;
  /**
   * The `Authorization` value of the headers editor's initial text: while the
   * headers still hold it, the schema query waits instead of going out.
   */
  placeholderAuthorization: string;
  /** Props of Yoga's GraphiQL (JSON values only). `title` is HTML: escape it. */
  graphiql: {
    title: string;
    defaultQuery: string;
    headers: string;
    isHeadersEditorEnabled: boolean;
    defaultEditorToolsVisibility: 'headers' | 'variables' | boolean;
    shouldPersistHeaders: false;
  };
}

/**
 * The `localStorage` keys GraphiQL may keep: the theme, the open side pane and
 * the pane sizes. Everything else GraphiQL stores holds editor text (`tabState`,
 * `query`, `variables`, `headers`, the history's `queries` and `favorites`).
 */
export const PLAYGROUND_KEPT_STORAGE_KEYS = ['theme', 'visiblePlugin', 'docExplorerFlex', 'secondaryEditorFlex', 'editorFlex'] as const;

/**
 * The browser code that starts GraphiQL (after Yoga's bundle has defined
 * `YogaGraphiQL`), as `startPlayground(rootElement, config)`. Plain ES2017,
 * kept as text so that no compiler or coverage tool rewrites it. It gives
 * GraphiQL, through its own props:
 *
 * - `storage`: `localStorage` restricted to {@link PLAYGROUND_KEPT_STORAGE_KEYS}.
 *   Editor text (a `saveToken` with an inline `clientSecret`, a key in the
 *   headers) is never written; what an earlier version of the page left under
 *   `graphiql:` is removed on load.
 * - `onEditQuery`: does nothing, replacing Yoga's, which copies the query
 *   into the page's URL (`?query=`), that is into the browser's history.
 * - `fetcher`: a `POST` of JSON to the endpoint with the editor's headers
 *   (in place of Yoga's, which would send the schema query at once; the API
 *   has no subscriptions or incremental delivery, so nothing more is needed).
 *   The schema query (`IntrospectionQuery`) goes out only once the headers
 *   hold something else than the placeholder key, and an `UNAUTHENTICATED`
 *   answer to it is not shown: it waits for the next edit of the headers and
 *   asks again. So the page opens with no error, and the Docs pane fills in
 *   once a valid key is typed, with no re-fetch click.
 * - `onEditHeaders`: tracks the headers' text and triggers that retry (after
 *   300 ms without typing, so a key typed character by character is not
 *   sent 40 times; a retry also follows an edit made while a refused query
 *   was out).
 */
export const PLAYGROUND_START_SCRIPT = String.raw`
function startPlayground(root, config) {
  'use strict';
  var PREFIX = 'graphiql:';
  var KEPT = ${JSON.stringify(PLAYGROUND_KEPT_STORAGE_KEYS)}.map(function (k) { return PREFIX + k; });
  var kept = function (key) { return KEPT.indexOf(key) !== -1; };
  var local = null;
  try { local = window.localStorage; } catch (e) { local = null; }
  var ownKeys = function () {
    var keys = [];
    if (!local) return keys;
    for (var i = 0; i < local.length; i++) {
      var key = local.key(i);
      if (key !== null && key.indexOf(PREFIX) === 0) keys.push(key);
    }
    return keys;
  };
  var attempt = function (f, fallback) { try { return f(); } catch (e) { return fallback; } };
  // Editor text an earlier version of this page persisted.
  ownKeys().forEach(function (key) { if (!kept(key)) attempt(function () { local.removeItem(key); }); });
  var storage = {
    getItem: function (key) { return local && kept(key) ? attempt(function () { return local.getItem(key); }, null) : null; },
    setItem: function (key, value) { if (local && kept(key)) local.setItem(key, value); },
    removeItem: function (key) { if (local) attempt(function () { local.removeItem(key); }); },
    clear: function () { ownKeys().forEach(function (key) { attempt(function () { local.removeItem(key); }); }); },
    get length() { return ownKeys().filter(kept).length; },
  };

  var post = function (params, headers) {
    var h;
    try {
      h = new Headers({ accept: 'application/graphql-response+json, application/json;q=0.9', 'content-type': 'application/json' });
      Object.keys(headers || {}).forEach(function (name) { h.set(name, String(headers[name])); });
    } catch (e) {
      return Promise.reject(e);
    }
    return fetch(config.endpoint, { method: 'POST', credentials: 'same-origin', headers: h, body: JSON.stringify(params) }).then(function (response) {
      return response.text().then(function (text) {
        try {
          return JSON.parse(text);
        } catch (e) {
          return { errors: [{ message: 'HTTP ' + response.status + ': ' + text.slice(0, 500) }] };
        }
      });
    });
  };
  var parseHeaders = function (text) {
    try {
      var value = JSON.parse(text || '{}');
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
    } catch (e) {
      return null;
    }
  };
  var holdsPlaceholder = function (headers) {
    return Object.keys(headers).some(function (name) { return name.toLowerCase() === 'authorization' && headers[name] === config.placeholderAuthorization; });
  };
  var unauthenticated = function (result) {
    return !!result && Array.isArray(result.errors) && result.errors.some(function (e) { return !!e && !!e.extensions && e.extensions.code === 'UNAUTHENTICATED'; });
  };

  var headersText = config.graphiql.headers;
  var schemaQueries = 0;
  var retrySchemaQuery = null;
  var retryTimer;
  var scheduleRetry = function () {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () {
      var retry = retrySchemaQuery;
      retrySchemaQuery = null;
      if (retry) retry();
    }, 300);
  };
  var fetchSchema = function (params, headers) {
    var n = ++schemaQueries;
    retrySchemaQuery = null;
    return new Promise(function (resolve, reject) {
      var sentText = headersText;
      var send = function (h) {
        if (!h || holdsPlaceholder(h)) return wait();
        post(params, h).then(function (result) { if (unauthenticated(result)) wait(); else resolve(result); }, reject);
      };
      var wait = function () {
        if (n !== schemaQueries) return;
        retrySchemaQuery = function () {
          sentText = headersText;
          send(parseHeaders(headersText));
        };
        // The headers were edited while the refused query was out.
        if (headersText !== sentText) scheduleRetry();
      };
      send(headers || {});
    });
  };
  var fetcher = function (params, opts) {
    var schemaQuery = params.operationName === 'IntrospectionQuery' && !(opts && 'documentAST' in opts);
    return schemaQuery ? fetchSchema(params, opts && opts.headers) : post(params, opts && opts.headers);
  };
  var onEditHeaders = function (text) {
    headersText = text;
    if (retrySchemaQuery) scheduleRetry();
  };

  YogaGraphiQL.renderYogaGraphiQL(root, Object.assign({}, config.graphiql, {
    storage: storage,
    fetcher: fetcher,
    onEditHeaders: onEditHeaders,
    onEditQuery: function () {},
  }));
}
`;

/** JSON that can sit inside an inline `<script>`: no `</script>`, `<!--` or line separators can end or confuse it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The playground page: Yoga's GraphiQL bundle (`@graphql-yoga/render-graphiql/graphiql`:
 * its CSS, script, favicon and Monaco workers, which the page turns into blob URLs)
 * in one HTML document with one inline script that ends with
 * `startPlayground(document.querySelector('#root'), config)`. This is the
 * package's own `renderGraphiQL` template with tokengate's start script in
 * place of its `renderYogaGraphiQL(root, options)` call, whose options,
 * being JSON, cannot carry GraphiQL's `storage`, `fetcher` or callbacks.
 * `config.graphiql.title` is HTML (GraphiQL shows it as such): escape plain text first.
 */
export function playgroundPageHtml(config: PlaygroundPageConfig, parts: GraphiQLParts): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${config.graphiql.title}</title>
    <link rel="icon" href="${parts.favicon}" />
    <style>
      ${parts.css}
    </style>
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script>
      function prepareBlob(workerContent) {
        const blob = new Blob([workerContent], { type: 'application/javascript' });
        return URL.createObjectURL(blob);
      }
      const workers = {
        editorWorkerService: prepareBlob(${scriptJson(parts.editorWorkerService)}),
        json: prepareBlob(${scriptJson(parts.jsonWorker)}),
        graphql: prepareBlob(${scriptJson(parts.graphqlWorker)}),
      };
      self['MonacoEnvironment'] = {
        globalAPI: false,
        getWorkerUrl: function (moduleId, label) {
          return workers[label];
        },
      };
      ${parts.js};
      ${PLAYGROUND_START_SCRIPT}
      startPlayground(window.document.querySelector('#root'), ${scriptJson(config)});
    </script>
  </body>
</html>
`;
}
