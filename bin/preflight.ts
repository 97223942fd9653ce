/** Exits non-zero, naming the start command, when RabbitMQ or Redis is down (make up / make test). */
import { loadConfig } from '../core/config';
import { checkServices, describeDown } from '../infra/preflight';

checkServices(loadConfig()).then((checks) => {
  const problem = describeDown(checks);
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
});
