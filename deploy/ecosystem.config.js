// PM2 process file, equivalent to the earlier system's ecosystem.liquidation1h.config.js.
// From the project folder: pm2 start deploy/ecosystem.config.js && pm2 save
// (the second app, liquidation-streams, is the exchanges' websocket listener; leave it out if you
// collect from Coinglass or a panic API only)
// Status / logs:           pm2 status liquidation-1h-collector; pm2 logs liquidation-1h-collector
const path = require("path");
const root = path.resolve(__dirname, "..");

module.exports = {
  apps: [
    {
      name: "liquidation-1h-collector",
      cwd: root,
      script: path.join(root, "manage.py"),
      args: "collect_liquidation --loop",
      interpreter: path.join(root, ".venv", "bin", "python"),
      autorestart: true,
      max_memory_restart: "200M",
      kill_timeout: 60000, // SIGINT first: the loop finishes a write in progress, then exits 0
      out_file: path.join(root, "logs", "liquidation_1h_collector_out.log"),
      error_file: path.join(root, "logs", "liquidation_1h_collector_error.log"),
      time: true,
      env: { PYTHONUNBUFFERED: "1" },
    },
    {
      name: "liquidation-streams",
      cwd: root,
      script: path.join(root, "manage.py"),
      args: "stream_liquidations",
      interpreter: path.join(root, ".venv", "bin", "python"),
      autorestart: true,
      max_memory_restart: "300M",
      kill_timeout: 30000, // SIGINT: flushes held events, writes status.json, exits 0
      out_file: path.join(root, "logs", "liquidation_streams_out.log"),
      error_file: path.join(root, "logs", "liquidation_streams_error.log"),
      time: true,
      env: { PYTHONUNBUFFERED: "1" },
    },
  ],
};
