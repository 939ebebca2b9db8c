//! `amqps://` against a throw-away TLS-only RabbitMQ node with a CA made at run time (one
//! node for the whole file: starting one takes seconds): with the node's CA and the name
//! in its certificate a task goes through; a certificate for another host name and a CA
//! that signed nothing are each refused with an error that says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use messenger_domain::TaskId;
use messenger_ports::{TaskConsumer, TaskQueue};
use messenger_rabbitmq::testing::{amqp_url, unique_config, TlsBroker};
use messenger_rabbitmq::{AmqpConfig, AmqpError, AmqpTaskConsumer, AmqpTaskQueue};
use std::time::Duration;

fn config(url: &str, ca_file: Option<std::path::PathBuf>) -> AmqpConfig {
    let mut cfg = unique_config(url);
    cfg.ca_file = ca_file;
    cfg.connect_timeout = Duration::from_secs(5);
    cfg.publish_timeout = Duration::from_secs(5);
    cfg
}

#[tokio::test]
async fn amqps_checks_the_brokers_certificate() {
    let Some(_) = amqp_url("amqps_checks_the_brokers_certificate") else {
        return;
    };
    let Some(broker) = TlsBroker::start("amqps_checks_the_brokers_certificate") else {
        return;
    };

    // The node's CA and the name in its certificate: a task goes through and back.
    let cfg = config(&broker.url("localhost"), Some(broker.ca_file.clone()));
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    queue.connect().await.unwrap();
    let task = TaskId::from_u128(0x7115);
    queue.publish(task).await.unwrap();
    let consumer = AmqpTaskConsumer::new(cfg.clone()).unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("a delivery within 10 s")
        .unwrap()
        .expect("a delivery");
    assert_eq!(delivery.payload(), task.to_string().as_bytes());
    delivery.ack().await.unwrap();
    consumer.close().await;

    // The certificate names `localhost`, not the address.
    let cfg = config(&broker.url("127.0.0.1"), Some(broker.ca_file.clone()));
    let e = AmqpTaskQueue::new(cfg)
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(e, AmqpError::Handshake(_)), "{e:?}");
    let said = e.to_string();
    assert!(
        said.contains("TLS") && said.contains("hostname mismatch"),
        "{said}"
    );

    // A CA that signed nothing here (and the system's roots, which lapin adds to it).
    for ca_file in [Some(broker.other_ca_file.clone()), None] {
        let cfg = config(&broker.url("localhost"), ca_file.clone());
        let e = AmqpTaskQueue::new(cfg)
            .unwrap()
            .connect()
            .await
            .unwrap_err();
        let said = e.to_string();
        assert!(
            said.contains("TLS") && said.contains("unknown issuer"),
            "{ca_file:?}: {said}"
        );
    }
}

#[test]
fn a_ca_file_needs_amqps() {
    let mut cfg = AmqpConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f");
    cfg.ca_file = Some("/etc/ca.pem".into());
    let e = AmqpTaskQueue::new(cfg).err().expect("refused").to_string();
    assert!(e.contains("AMQP_CA_FILE") && e.contains("amqps://"), "{e}");
    let mut cfg = AmqpConfig::new("amqps://guest:guest@localhost:5671/%2f");
    cfg.ca_file = Some("/no/such/ca.pem".into());
    let e = AmqpTaskQueue::new(cfg).err().expect("refused").to_string();
    assert!(e.contains("TLS") && e.contains("/no/such/ca.pem"), "{e}");
}
