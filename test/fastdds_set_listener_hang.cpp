// Fast DDS's own teardown step, without ROS: a participant's listener is busy in a discovery callback (it
// sleeps 1 s) when the participant's listener is removed, as rmw_fastrtps does when a process destroys its
// last node. set_listener(nullptr) must wait for the callback to end, then return. With the PyPI
// libfastdds alone it never returns (test/test_fastdds_wait_fix.py).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fastdds/dds/domain/DomainParticipant.hpp>
#include <fastdds/dds/domain/DomainParticipantFactory.hpp>
#include <fastdds/dds/domain/DomainParticipantListener.hpp>

using namespace eprosima::fastdds::dds;

struct SlowListener : public DomainParticipantListener
{
    std::atomic<bool> inside{false};

    void on_participant_discovery(
            DomainParticipant*, eprosima::fastdds::rtps::ParticipantDiscoveryStatus,
            const ParticipantBuiltinTopicData&, bool& should_be_ignored) override
    {
        should_be_ignored = false;
        inside = true;
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
};

int main(int argc, char** argv)
{
    int domain = argc > 1 ? std::atoi(argv[1]) : 0;
    DomainParticipantFactory* factory = DomainParticipantFactory::get_instance();
    SlowListener listener;
    DomainParticipant* a = factory->create_participant(domain, PARTICIPANT_QOS_DEFAULT, &listener);
    DomainParticipant* b = factory->create_participant(domain, PARTICIPANT_QOS_DEFAULT);  // a discovers b
    if (a == nullptr || b == nullptr)
    {
        std::printf("no participant\n");
        return 2;
    }
    while (!listener.inside)
    {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto start = std::chrono::steady_clock::now();
    a->set_listener(nullptr);
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::printf("set_listener(nullptr) returned after %.2f s\n", took.count());
    std::fflush(stdout);
    factory->delete_participant(b);
    factory->delete_participant(a);
    return 0;
}
