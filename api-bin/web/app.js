// placeholder app.js
