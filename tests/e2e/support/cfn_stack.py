"""The deploy tests' (tests/e2e/deploy.rs) side of CloudFormation: boto3 against moto_server only.

`cfn_stack.py create` reads a JSON request on stdin: {"template": path, "stack": name, "cluster": name,
"parameters": {key: value}}; creates the ECS cluster (the stack expects an existing one), then the stack, waits for
it to settle, and prints one JSON object {"status", "reason", "outputs", "resources", "task_definitions",
"services", "roles", "log_groups"} keyed by the template's logical ids, read back from moto's ECS, IAM and Logs.
`cfn_stack.py template PATH` prints the YAML template as JSON, short intrinsic tags (`!Ref`, `!Sub`, ...) in
their long form ({"Ref": ...}, {"Fn::Sub": ...}), as moto itself reads them.
"""

import ast
import json
import os
import sys
import time

import boto3
import yaml
from moto.cloudformation.utils import yaml_tag_constructor


def client(service):
    return boto3.client(
        service,
        endpoint_url=os.environ["R53D_E2E_MOTO_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


def create_stack(cfn, request):
    with open(request["template"], encoding="utf-8") as f:
        body = f.read()
    params = [
        {"ParameterKey": k, "ParameterValue": v}
        for k, v in request["parameters"].items()
    ]
    cfn.create_stack(
        StackName=request["stack"],
        TemplateBody=body,
        Parameters=params,
        Capabilities=["CAPABILITY_IAM"],
    )
    deadline = time.time() + 60
    while True:
        stack = cfn.describe_stacks(StackName=request["stack"])["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS") or time.time() > deadline:
            return stack
        time.sleep(0.2)


def document(doc):
    """A policy document as moto returns it: a dict, JSON, or (inline policies from a template) a Python repr."""
    if not isinstance(doc, str):
        return doc
    try:
        return json.loads(doc)
    except json.JSONDecodeError:
        return ast.literal_eval(doc)


def role_of(iam, name):
    role = iam.get_role(RoleName=name)["Role"]
    policies = {}
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        policies[policy] = document(doc)
    return {
        "arn": role["Arn"],
        "trust": document(role["AssumeRolePolicyDocument"]),
        "policies": policies,
    }


def read_back(resources, cluster):
    ecs, iam, logs = client("ecs"), client("iam"), client("logs")
    out = {"task_definitions": {}, "services": {}, "roles": {}, "log_groups": {}}
    for r in resources:
        kind, logical, physical = r["ResourceType"], r["LogicalResourceId"], r["PhysicalResourceId"]
        if kind == "AWS::ECS::TaskDefinition":
            td = ecs.describe_task_definition(taskDefinition=physical)["taskDefinition"]
            out["task_definitions"][logical] = td
        elif kind == "AWS::ECS::Service":
            found = ecs.describe_services(cluster=cluster, services=[physical])["services"]
            out["services"][logical] = found[0] if found else None
        elif kind == "AWS::IAM::Role":
            out["roles"][logical] = role_of(iam, physical)
        elif kind == "AWS::Logs::LogGroup":
            groups = logs.describe_log_groups(logGroupNamePrefix=physical)["logGroups"]
            out["log_groups"][logical] = [g for g in groups if g["logGroupName"] == physical]
    return out


def template(path):
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("", yaml_tag_constructor)
    with open(path, encoding="utf-8") as f:
        json.dump(yaml.load(f, Loader=Loader), sys.stdout)


def main():
    if sys.argv[1:2] == ["template"]:
        template(sys.argv[2])
        return
    request = json.load(sys.stdin)
    client("ecs").create_cluster(clusterName=request["cluster"])
    cfn = client("cloudformation")
    stack = create_stack(cfn, request)
    resources = cfn.describe_stack_resources(StackName=request["stack"])["StackResources"]
    out = {
        "status": stack["StackStatus"],
        "reason": stack.get("StackStatusReason", ""),
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        "resources": {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources},
    }
    out.update(read_back(resources, request["cluster"]))
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
