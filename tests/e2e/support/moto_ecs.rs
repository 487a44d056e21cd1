//! The ECS side of the janitor tests: clusters and container instances in `moto_server`, through the real
//! `aws-sdk-ecs` (and one raw EC2 `RunInstances`, since moto registers a container instance only for an EC2
//! instance it knows).

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_sdk_ecs::Client;

/// A client of moto's ECS (and EC2) with its own runtime.
pub struct MotoEcs {
    rt: tokio::runtime::Runtime,
    client: Client,
    url: String,
    /// Container instance id → the EC2 instance it was registered for.
    ec2: Mutex<BTreeMap<String, String>>,
    region: String,
}

/// moto does not check AMIs by default; any well-formed id will do.
const AMI: &str = "ami-12c6146b";

impl MotoEcs {
    /// Connects to the moto_server `scripts/test` started (its us-east-1).
    pub fn connect() -> Self {
        Self::connect_in("us-east-1")
    }

    /// Connects to `region` of the moto_server `scripts/test` started (moto keeps ECS and EC2 per region).
    pub fn connect_in(region: &str) -> Self {
        let (rt, config, url) = super::moto::sdk_config();
        let config = aws_sdk_ecs::config::Builder::from(&config)
            .region(aws_sdk_ecs::config::Region::new(region.to_string()))
            .build();
        Self {
            client: Client::from_conf(config),
            rt,
            url,
            ec2: Mutex::default(),
            region: region.into(),
        }
    }

    /// Creates a cluster.
    pub fn create_cluster(&self, name: &str) {
        let req = self.client.create_cluster().cluster_name(name);
        self.rt.block_on(req.send()).expect("CreateCluster");
    }

    /// One raw EC2 query request (moto only reads the credential scope to route it); the response body.
    fn ec2_query(&self, body: &str) -> String {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/ec2/aws4_request, SignedHeaders=host, Signature=0",
            self.region
        );
        ureq::post(&format!("{}/", self.url))
            .set("Authorization", &auth)
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(body)
            .expect("an EC2 query")
            .into_string()
            .unwrap()
    }

    /// Starts an EC2 instance in moto; returns its id.
    pub fn run_ec2_instance(&self) -> String {
        let resp = self.ec2_query(&format!(
            "Action=RunInstances&Version=2016-11-15&ImageId={AMI}&MinCount=1&MaxCount=1&InstanceType=t3.micro"
        ));
        let start = resp.find("<instanceId>").expect("an instance id") + "<instanceId>".len();
        let end = start + resp[start..].find("</instanceId>").unwrap();
        resp[start..end].to_string()
    }

    /// Registers a new container instance (on a new EC2 instance); returns its id (last part of the ARN).
    pub fn register_instance(&self, cluster: &str) -> String {
        let ec2_id = self.run_ec2_instance();
        let document = serde_json::json!({ "instanceId": ec2_id }).to_string();
        let req = self
            .client
            .register_container_instance()
            .cluster(cluster)
            .instance_identity_document(document);
        let out = self
            .rt
            .block_on(req.send())
            .expect("RegisterContainerInstance");
        let arn = out
            .container_instance()
            .and_then(|c| c.container_instance_arn())
            .expect("an ARN");
        let id = arn.rsplit('/').next().unwrap().to_string();
        self.ec2.lock().unwrap().insert(id.clone(), ec2_id);
        id
    }

    /// The EC2 instance container instance `id` was registered for.
    pub fn ec2_of(&self, id: &str) -> String {
        self.ec2.lock().unwrap()[id].clone()
    }

    /// Terminates EC2 instance `ec2_id` (ECS still lists a container instance registered for it).
    pub fn terminate_ec2(&self, ec2_id: &str) {
        let resp = self.ec2_query(&format!(
            "Action=TerminateInstances&Version=2016-11-15&InstanceId.1={ec2_id}"
        ));
        assert!(resp.contains(ec2_id), "TerminateInstances: {resp}");
    }

    /// Deregisters a container instance (moto then forgets it: describe reports it `MISSING`).
    pub fn deregister(&self, cluster: &str, id: &str) {
        let req = self
            .client
            .deregister_container_instance()
            .cluster(cluster)
            .container_instance(id)
            .force(true);
        self.rt
            .block_on(req.send())
            .expect("DeregisterContainerInstance");
    }
}
