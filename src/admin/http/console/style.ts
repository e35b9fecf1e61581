/** The console's one stylesheet, served at /admin/style.css (the CSP allows styles from 'self' only, none inline). */
export const STYLE = `
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d5d9de;--bg:#fff;--accent:#0b5cad;--deny:#b3261e;--allow:#2e7d32;--soft:#f3f5f7}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:8px;z-index:2}
header{display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px;padding:10px 16px;border-bottom:1px solid var(--line);background:var(--soft)}
.brand{margin:0;font-weight:700}
header nav{flex-basis:100%}header nav ul{display:flex;flex-wrap:wrap;gap:4px 14px;list-style:none;margin:0;padding:0}
header nav a{color:var(--accent);text-decoration:none;padding:4px 2px}header nav a[aria-current=page]{font-weight:700;border-bottom:3px solid var(--accent)}
.signout{margin-left:auto;display:flex;gap:8px;align-items:center}
main{padding:16px;max-width:1200px}
h1{font-size:1.5rem;margin:.2em 0 .6em}h2{font-size:1.15rem;margin:1.4em 0 .5em}
a{color:var(--accent)}a:focus,button:focus,input:focus,select:focus,[tabindex]:focus{outline:3px solid #f0a500;outline-offset:2px}
.table{overflow-x:auto;border:1px solid var(--line);border-radius:6px;margin:.5em 0}
table{border-collapse:collapse;width:100%;font-size:.93rem}caption{text-align:left;padding:8px;font-weight:600}
th,td{text-align:left;padding:6px 8px;border-top:1px solid var(--line);vertical-align:top}th{background:var(--soft);white-space:nowrap}
td time{white-space:nowrap}
td code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em;word-break:break-all}
form.inline{display:inline}
form.filters,form.stack{display:flex;flex-wrap:wrap;gap:10px 14px;align-items:flex-end;margin:.5em 0 1em;padding:10px;background:var(--soft);border-radius:6px}
form.stack{flex-direction:column;align-items:stretch;max-width:28rem}
label{display:flex;flex-direction:column;font-size:.9rem;gap:2px}
label.check span{display:flex;gap:8px;align-items:center}input[type=checkbox]{min-height:0;width:18px;height:18px;margin:0}
fieldset{border:1px solid var(--line);border-radius:4px;display:flex;flex-wrap:wrap;gap:6px 16px}legend{font-size:.9rem}
input,select{font:inherit;padding:6px 8px;border:1px solid #8a939d;border-radius:4px;min-height:36px}
button{font:inherit;padding:6px 12px;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:4px;min-height:36px;cursor:pointer}
a.button{display:inline-block;text-decoration:none;font:inherit;padding:6px 12px;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:4px}button.danger{background:var(--deny);border-color:var(--deny)}button.quiet{background:#fff;color:var(--accent)}
.notice{padding:10px;background:#e8f3ea;border-left:4px solid var(--allow)}.error{padding:10px;background:#fbeaea;border-left:4px solid var(--deny)}
.secret{padding:10px;background:#fff7e0;border:1px solid #e0b000;word-break:break-all}
.muted,.empty{color:var(--muted)}.deny{color:var(--deny);font-weight:600}.allow{color:var(--allow)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:10px;margin:0 0 1em;padding:0;list-style:none}
.cards li{border:1px solid var(--line);border-radius:6px;padding:10px}.cards strong{display:block;font-size:1.6rem}
.pager{display:flex;gap:16px;margin:.5em 0}
figure{margin:0 0 1em}figcaption{font-weight:600;margin-bottom:4px}svg.chart{width:100%;height:auto;max-width:720px}
svg .bar-allow{fill:#4f8fd6}svg .bar-deny{fill:var(--deny)}svg text{font-size:11px;fill:var(--fg)}svg .axis{stroke:var(--line)}
dl.record{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px}dl.record dt{font-weight:600}dl.record dd{margin:0;word-break:break-all}
@media (max-width:600px){main{padding:10px}th,td{padding:5px}.signout{margin-left:0}}
`;
