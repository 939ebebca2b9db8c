//! The shared task-queue conformance suite against a real RabbitMQ
//! (`MESSENGER_TEST_AMQP_URL`; skipped without it), on a queue of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use messenger_ports::testing::{task_queue_suite, TimeTravel};
use messenger_rabbitmq::testing::*;
use messenger_rabbitmq::{AmqpTaskConsumer, AmqpTaskQueue};

#[tokio::test]
async fn rabbitmq_passes_the_task_queue_suite() {
    let Some(url) = amqp_url("rabbitmq_passes_the_task_queue_suite") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    let consumer = AmqpTaskConsumer::new(cfg).unwrap();
    // The broker keeps its own time: the suite's waits are real sleeps.
    let wait = TimeTravel::new(|d| Box::pin(tokio::time::sleep(d)));
    task_queue_suite(&queue, &consumer, &wait).await;
    consumer.close().await;
}
