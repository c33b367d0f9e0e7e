package platform

import (
	"fmt"
	"sort"
)

// hourly are the resource types billed by the hour (or by the month for
// being there) whatever the traffic.
var hourly = map[string]string{
	"AWS::EC2::NatGateway":                           "a NAT gateway is billed by the hour",
	"AWS::EC2::Instance":                             "an always-on instance",
	"AWS::EC2::EIP":                                  "an Elastic IP is billed by the hour",
	"AWS::EC2::TransitGateway":                       "a transit gateway is billed by the hour",
	"AWS::EC2::ClientVpnEndpoint":                    "a Client VPN endpoint is billed by the hour",
	"AWS::RDS::DBInstance":                           "a database instance",
	"AWS::RDS::DBCluster":                            "a database cluster",
	"AWS::ElastiCache::CacheCluster":                 "a cache cluster",
	"AWS::ElastiCache::ReplicationGroup":             "a cache cluster",
	"AWS::OpenSearchService::Domain":                 "a search domain",
	"AWS::Elasticsearch::Domain":                     "a search domain",
	"AWS::Redshift::Cluster":                         "a warehouse cluster",
	"AWS::DocDB::DBCluster":                          "a database cluster",
	"AWS::Neptune::DBCluster":                        "a database cluster",
	"AWS::MSK::Cluster":                              "a Kafka cluster",
	"AWS::EKS::Cluster":                              "an EKS control plane is billed by the hour",
	"AWS::ECS::Service":                              "a service keeps tasks running",
	"AWS::ElasticLoadBalancingV2::LoadBalancer":      "a load balancer is billed by the hour",
	"AWS::ElasticLoadBalancing::LoadBalancer":        "a load balancer is billed by the hour",
	"AWS::SageMaker::Endpoint":                       "an inference endpoint keeps instances running",
	"AWS::Kinesis::Stream":                           "a provisioned stream is billed by the shard-hour",
	"AWS::NetworkFirewall::Firewall":                 "a firewall endpoint is billed by the hour",
	"AWS::DirectoryService::MicrosoftAD":             "a directory is billed by the hour",
	"AWS::GlobalAccelerator::Accelerator":            "an accelerator is billed by the hour",
	"AWS::AppRunner::Service":                        "a provisioned service",
	"AWS::Lambda::Version:provisioned":               "provisioned concurrency is billed by the hour",
	"AWS::Batch::ComputeEnvironment:minvcpus":        "Batch keeps MinvCpus running",
	"AWS::EC2::VPCEndpoint:interface":                "an interface endpoint is billed by the hour per AZ",
	"AWS::AutoScaling::AutoScalingGroup:mincapacity": "an Auto Scaling group keeps MinSize instances",
}

// IdleCost lists the resources in a synthesized template that are billed
// while nothing happens: one line each, naming the resource and why.
func IdleCost(doc map[string]any) []string {
	var found []string
	res, _ := doc["Resources"].(map[string]any)
	for id, r := range res {
		r, _ := r.(map[string]any)
		typ, _ := r["Type"].(string)
		p, _ := r["Properties"].(map[string]any)
		why, ok := hourly[typ]
		switch typ {
		case "AWS::Lambda::Version", "AWS::Lambda::Alias":
			ok = p["ProvisionedConcurrencyConfig"] != nil
			why = hourly["AWS::Lambda::Version:provisioned"]
		case "AWS::Batch::ComputeEnvironment":
			cr, _ := p["ComputeResources"].(map[string]any)
			minv, isNum := cr["MinvCpus"].(float64)
			ok = cr != nil && (!isNum || minv > 0)
			why = hourly["AWS::Batch::ComputeEnvironment:minvcpus"]
		case "AWS::EC2::VPCEndpoint":
			ok = p["VpcEndpointType"] != nil && p["VpcEndpointType"] != "Gateway"
			why = hourly["AWS::EC2::VPCEndpoint:interface"]
		case "AWS::AutoScaling::AutoScalingGroup":
			ok = fmt.Sprint(p["MinSize"]) != "0"
			why = hourly["AWS::AutoScaling::AutoScalingGroup:mincapacity"]
		}
		if ok {
			found = append(found, fmt.Sprintf("%s (%s): %s", id, typ, why))
		}
	}
	sort.Strings(found)
	return found
}
