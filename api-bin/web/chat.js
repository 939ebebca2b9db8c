// placeholder chat.js
