// placeholder dom.js
