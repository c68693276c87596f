package perfetto

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"strconv"
)

// pageScript follows Perfetto UI's documented postMessage hand-off: open the
// UI, PING it until it answers PONG, then post {perfetto: {buffer, title}}.
// window.open runs first, synchronously, because browsers allow pop-ups only
// while handling a click; the automatic attempt on load is usually blocked,
// and the button is the way in.
const pageScript = `(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('cfg').textContent);
  var status = document.getElementById('status');
  var buffer = null;
  function say(msg) { status.textContent = msg; }
  function load() {
    if (buffer) { return Promise.resolve(buffer); }
    return fetch(cfg.trace, {cache: 'no-store'}).then(function (resp) {
      if (!resp.ok) { throw new Error('GET ' + cfg.trace + ': HTTP ' + resp.status); }
      return resp.arrayBuffer();
    }).then(function (b) { buffer = b; return b; });
  }
  function open() {
    var win = window.open(cfg.ui);
    if (!win) {
      say('The browser blocked the pop-up: click "Open in Perfetto UI".');
      return;
    }
    say('Reading the trace…');
    load().then(function (buf) {
      say('Waiting for Perfetto UI…');
      var tries = 0;
      var timer = setInterval(function () {
        if (++tries > 600) {
          clearInterval(timer);
          window.removeEventListener('message', onMessage);
          say('Perfetto UI did not answer within 30 s; click to try again.');
          return;
        }
        win.postMessage('PING', cfg.ui);
      }, 50);
      function onMessage(evt) {
        if (evt.source !== win || evt.origin !== cfg.ui || evt.data !== 'PONG') { return; }
        clearInterval(timer);
        window.removeEventListener('message', onMessage);
        win.postMessage({perfetto: {buffer: buf, title: cfg.title, fileName: cfg.title}}, cfg.ui);
        say('Sent ' + buf.byteLength + ' bytes to Perfetto UI.');
      }
      window.addEventListener('message', onMessage);
    }).catch(function (e) { say(String(e)); });
  }
  document.getElementById('open').addEventListener('click', open);
  open();
})();`

const pageStyle = `body { font: 15px/1.5 system-ui, sans-serif; max-width: 46em; margin: 3em auto; padding: 0 1em; color: #222; }
button { font: inherit; padding: .5em 1.2em; cursor: pointer; }
code { background: #f3f3f3; padding: 0 .2em; word-break: break-all; }
#status { color: #555; }`

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}} — otel2chrome</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p><button id="open">Open in Perfetto UI</button> <span id="status"></span></p>
<p>This page, served by <code>otel2chrome view</code> on 127.0.0.1, reads the trace and
posts it to <a href="{{.UI}}">{{.UI}}</a> in your browser; the trace is not uploaded anywhere.</p>
<p>Other ways to open it: {{if .DeepLink}}the <a href="{{.DeepLink}}">Perfetto UI link</a> (the UI
fetches the trace from this server itself), or {{end}}download
<a href="{{.Trace}}" download="{{.Title}}">the trace file</a> and load it in
<code>chrome://tracing</code> or <a href="https://www.speedscope.app/">speedscope</a>.</p>
<script id="cfg" type="application/json">{{.Cfg}}</script>
<script>{{.Script}}</script>
</body>
</html>
`))

// pageCSP is the content security policy that lets exactly the page's own
// inline script and style run, and lets it fetch only from its own server.
var pageCSP = "default-src 'none'; script-src " + hash(pageScript) + "; style-src " + hash(pageStyle) +
	"; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// renderPage returns the hand-off page for a server reached as host; the
// deep link is offered only when host is 127.0.0.1:9001, the one local
// address Perfetto UI fetches from.
func renderPage(title, uiOrigin, host string) ([]byte, error) {
	var deepLink template.URL
	if host == "127.0.0.1:"+strconv.Itoa(DefaultPort) {
		deepLink = template.URL(uiOrigin + "/#!/?url=http://" + host + TracePath)
	}
	type cfg struct {
		UI    string `json:"ui"`
		Trace string `json:"trace"`
		Title string `json:"title"`
	}
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, map[string]any{
		"Title":    title,
		"UI":       template.URL(uiOrigin),
		"Trace":    TracePath,
		"DeepLink": deepLink,
		"Cfg":      cfg{UI: uiOrigin, Trace: TracePath, Title: title},
		"Style":    template.CSS(pageStyle),
		"Script":   template.JS(pageScript),
	})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
