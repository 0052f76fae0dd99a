// Preloaded (`node --require`) into a gateway process a test spawns with an
// IPC channel: tells the test the moment the HTTP server listens, so that it
// waits for that rather than polling. The channel never keeps the process alive.
const { isMainThread } = require('node:worker_threads');
const net = require('node:net');

if (isMainThread && typeof process.send === 'function') {
  process.channel?.unref();
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (...args) {
    this.once('listening', () => {
      const address = this.address();
      process.send?.({ tokengate: 'listening', port: address && typeof address === 'object' ? address.port : null });
    });
    return listen.apply(this, args);
  };
}
