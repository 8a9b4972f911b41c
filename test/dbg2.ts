import { createServer } from 'node:http'
import { connect } from 'node:net'
import { releaseHttpState } from '../lib/mount/release.js'
const server = createServer((request) => {
  request.socket.write('HTTP/1.0 200 OK\r\n\r\n')
  setImmediate(() => console.log('released', releaseHttpState(request.socket)))
})
server.listen(0, '127.0.0.1', () => {
  const c = connect((server.address() as any).port, '127.0.0.1', () => c.write('GET / HTTP/1.0\r\n\r\n'))
  c.on('data', (d) => console.log('client got', d.length))
  setInterval(() => console.log('tick'), 500)
})
