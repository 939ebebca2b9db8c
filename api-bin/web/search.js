// placeholder search.js
