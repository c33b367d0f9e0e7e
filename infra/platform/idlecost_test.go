package platform

import (
	"strings"
	"testing"
)

// Nothing in the stack is billed while no one uploads, trains or predicts.
func TestCostAtIdle(t *testing.T) {
	_, doc := template(t)
	if found := IdleCost(doc); len(found) > 0 {
		t.Errorf("resources billed at idle:\n%s", strings.Join(found, "\n"))
	}
}

// The walker finds what it is for (so that an empty answer above means
// something): each resource type that costs at idle, and not the free forms
// of the same types.
func TestIdleCostFinds(t *testing.T) {
	doc := map[string]any{"Resources": map[string]any{
		"Nat":        map[string]any{"Type": "AWS::EC2::NatGateway", "Properties": map[string]any{}},
		"Interface":  map[string]any{"Type": "AWS::EC2::VPCEndpoint", "Properties": map[string]any{"VpcEndpointType": "Interface"}},
		"Gateway":    map[string]any{"Type": "AWS::EC2::VPCEndpoint", "Properties": map[string]any{"VpcEndpointType": "Gateway"}},
		"GatewayDef": map[string]any{"Type": "AWS::EC2::VPCEndpoint", "Properties": map[string]any{}},
		"Warm":       map[string]any{"Type": "AWS::Batch::ComputeEnvironment", "Properties": map[string]any{"ComputeResources": map[string]any{"MinvCpus": 4.0}}},
		"Cold":       map[string]any{"Type": "AWS::Batch::ComputeEnvironment", "Properties": map[string]any{"ComputeResources": map[string]any{"MinvCpus": 0.0}}},
		"Provisioned": map[string]any{"Type": "AWS::Lambda::Alias",
			"Properties": map[string]any{"ProvisionedConcurrencyConfig": map[string]any{"ProvisionedConcurrentExecutions": 1}}},
		"Alias": map[string]any{"Type": "AWS::Lambda::Alias", "Properties": map[string]any{}},
		"Db":    map[string]any{"Type": "AWS::RDS::DBInstance", "Properties": map[string]any{}},
		"Box":   map[string]any{"Type": "AWS::EC2::Instance", "Properties": map[string]any{}},
		"Fn":    map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{}},
	}}
	got := IdleCost(doc)
	var ids []string
	for _, f := range got {
		ids = append(ids, strings.SplitN(f, " ", 2)[0])
	}
	want := "Box Db Interface Nat Provisioned Warm"
	if strings.Join(ids, " ") != want {
		t.Fatalf("found %v, want %s", got, want)
	}
}

// The private-subnets option adds a NAT gateway and its Elastic IP, and the
// walker says so.
func TestPrivateSubnetsCostAtIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("a second synthesis")
	}
	doc := synthWith(t, func(p *PlatformStackProps) { p.PrivateSubnets = true })
	found := IdleCost(doc)
	if len(found) != 2 || !strings.Contains(found[0], "(AWS::EC2::EIP)") || !strings.Contains(found[1], "(AWS::EC2::NatGateway)") {
		t.Fatalf("private subnets: %v, want one NAT gateway and its address", found)
	}
}
