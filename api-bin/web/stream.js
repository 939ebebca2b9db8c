// placeholder stream.js
