// placeholder api.js
